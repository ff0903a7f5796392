"""Stage runners: one module per stage kind, each run as `python -m runners.<kind> --config FILE`.

Each runner has a pure core `run(config) -> result` and a thin `main()`. Runners import
`olmospec.ir` for their config types; `olmospec` never imports runners (it names them as strings).
"""

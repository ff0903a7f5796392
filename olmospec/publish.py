"""`olmospec publish`: push every locked stage output to a DVC remote, so that a clone of the git
repository gets every result with `dvc pull` and `olmospec report` reproduces the table without
recomputing anything.

What it does, in order, and says as it goes:
1. refuses while a locked stage is out of date (`dvc status`: a changed input, a modified output),
   since the published lock would then not describe the checkout; stages that never ran are listed;
2. caches outputs that are in the workspace exactly as dvc.lock records them but not yet in the DVC
   cache (`dvc commit` of those stages: no hash changes, nothing reruns);
3. picks the remote: `--remote NAME`, else `--to URL` (added as the default remote `published`), else
   the project's default remote, else a local folder beside the project (`<project>.dvc-remote`);
4. `dvc push`, then `dvc status --cloud` to check that the remote holds every locked output;
5. prints what git must carry for a clone to pull (dvc.yaml, dvc.lock, stages/, .dvc/config) and the
   exact commands. It commits nothing itself, and refuses to publish a committed `.dvc/config` that holds
   credentials (they belong in `.dvc/config.local`: `dvc remote modify --local NAME secret_access_key ...`).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from pathlib import Path

from olmospec.dvc_store import StoreError, dvc, load_locks

SECRET = re.compile(r"^\s*(secret_access_key|access_key_id|session_token|password|account_key|sas_token|"
                    r"connection_string|gdrive_client_secret)\s*=", re.MULTILINE)
REMOTE = "published"


def publish(root: Path, remote: str | None = None, to: str | None = None) -> int:
    stages = load_locks(root)
    if not stages:
        raise StoreError("no dvc.lock: nothing has run here yet (`olmospec run SPEC` first)")
    stale, uncached, never = _state(root, stages)
    if stale:
        lines = "\n".join(f"  {s}: {why}" for s, why in stale.items())
        raise StoreError(f"{len(stale)} locked stage(s) are out of date, so dvc.lock does not describe this "
                         f"checkout:\n{lines}\nrun `dvc repro` (or `olmospec run SPEC`) first")
    if uncached:
        dvc(root, "commit", "-f", "-q", *[stages[s].target for s in uncached])
        print(f"cached the outputs of {len(uncached)} stage(s) that were not in the DVC cache yet "
              f"(`dvc commit`; dvc.lock unchanged): {', '.join(uncached)}")
    name, url = _remote(root, remote, to)
    _no_secrets(root)
    files = sum(o.nfiles for s in stages.values() for o in s.outs)
    size = sum(o.size for s in stages.values() for o in s.outs)
    print(f"pushing {len(stages)} stage(s), {files} output file(s), {size / 1e6:.1f} MB to remote '{name}' ({url})",
          flush=True)
    r = dvc(root, "push", "-r", name)
    print("  " + (r.stdout.strip().splitlines() or ["done"])[-1])
    left = json.loads(dvc(root, "status", "--cloud", "-r", name, "--json").stdout or "{}")
    if left:
        raise StoreError(f"after the push, remote '{name}' still lacks {len(left)} output(s), e.g. {next(iter(left))}")
    print(f"remote '{name}' holds every output of the {len(stages)} locked stage(s)")
    if loose := _undeclared(root, stages):
        print(f"warning: {len(loose)} file(s) in the stages' run folders are no declared output, so they do not "
              f"travel: {', '.join(loose[:3])}" + (" ..." if len(loose) > 3 else ""))
    if never:
        print(f"not published (never ran, no dvc.lock entry): {len(never)} stage(s), e.g. {', '.join(never[:3])}")
    _git_advice(root, stages, name)
    return 0


def _state(root: Path, stages) -> tuple[dict[str, str], list[str], list[str]]:
    """Locked stages that are out of date (with why), locked stages whose only change is 'not in cache',
    and stages of dvc.yaml that never ran."""
    report = json.loads(dvc(root, "status", "--json").stdout or "{}")
    stale, uncached, never = {}, [], []
    for stage, items in report.items():
        name = stage.rsplit(":", 1)[-1]
        if name not in stages:
            never.append(name)
            continue
        changes = {(kind, path, state) for item in items if isinstance(item, dict)
                   for kind, paths in item.items() for path, state in (paths or {}).items()}
        other = [f"{path} {state}" for kind, path, state in sorted(changes) if state != "not in cache"]
        # e.g. 'changed command'; 'always changed' (a stage that reads a remote source) is never up to date
        other += [str(item) for item in items if not isinstance(item, dict) and item != "always changed"]
        if other:
            stale[name] = ", ".join(other[:3]) + (f" (+{len(other) - 3})" if len(other) > 3 else "")
        else:
            uncached.append(name)
    return stale, uncached, never


def _undeclared(root: Path, stages) -> list[str]:
    """Files a stage wrote to its `runs/<id>/` folder that dvc.yaml does not declare (checkpoints aside)."""
    outs = {o.path for s in stages.values() for o in s.outs}
    loose = []
    for s in stages.values():
        for top, dirs, files in os.walk(root / "runs" / s.name):
            dirs[:] = [d for d in dirs if d != "checkpoints" and os.path.relpath(os.path.join(top, d), root) not in outs]
            for f in files:
                rel = Path(os.path.relpath(os.path.join(top, f), root)).as_posix()
                if f != ".gitignore" and rel not in outs:
                    loose.append(rel)
    return sorted(loose)


def _remote(root: Path, remote: str | None, to: str | None) -> tuple[str, str]:
    listed = {n: u.removesuffix("(default)").strip() for n, u in
              (line.split(None, 1) for line in dvc(root, "remote", "list").stdout.splitlines() if line.strip())}
    default = dvc(root, "remote", "default", check=False).stdout.strip()
    if remote:
        if remote not in listed:
            raise StoreError(f"no DVC remote '{remote}' (configured: {', '.join(listed) or 'none'}); "
                             f"add one with `dvc remote add {remote} URL` or use --to URL")
        if default not in listed:  # a clone's plain `dvc pull` then reads from it
            dvc(root, "remote", "default", remote)
            print(f"remote '{remote}' is now the project's default remote (.dvc/config)")
        return remote, listed[remote]
    if to is None and default in listed:
        return default, listed[default]
    if to is None:
        to = str(root.resolve().parent / f"{root.resolve().name}.dvc-remote")
    if "://" not in to:
        Path(to).mkdir(parents=True, exist_ok=True)
        to = str(Path(to).resolve())
    dvc(root, "remote", "add", "--default", "--force", REMOTE, to)
    print(f"remote '{REMOTE}' -> {to} (the project's default remote, written to .dvc/config)")
    return REMOTE, to


def _no_secrets(root: Path) -> None:
    cfg = root / ".dvc" / "config"
    if cfg.exists() and (m := SECRET.search(cfg.read_text(encoding="utf-8"))):
        raise StoreError(f"{cfg.relative_to(root)} holds '{m.group(1)}', and that file is committed: move it "
                         f"to .dvc/config.local (`dvc remote modify --local REMOTE {m.group(1)} VALUE`) or the "
                         f"environment (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY), then publish again")


def _needed_in_git(root: Path, stages) -> list[str]:
    """What a clone needs from git: the pipeline files, the remote's configuration, the specs the
    pipelines were compiled from, and every input of a locked stage that no stage produces."""
    made = {o.path for s in stages.values() for o in s.outs}
    paths = ["dvc.yaml", "dvc.lock", "stages", "pipelines", ".dvc/config", ".dvcignore", ".gitignore"]
    for yml in [root / "dvc.yaml", *sorted((root / "pipelines").glob("*/dvc.yaml"))]:
        if yml.exists() and (m := re.match(r"# GENERATED by `olmospec compile (\S+)`", yml.read_text("utf-8"))):
            paths.append(m.group(1))
    paths += sorted({d.path for s in stages.values() for d in s.deps if d.path not in made})
    return [p for p in dict.fromkeys(paths) if (root / p).exists()]


def _git_advice(root: Path, stages, remote: str) -> None:
    paths = _needed_in_git(root, stages)
    r = subprocess.run(["git", "status", "--porcelain", "--untracked-files=all", "--", *paths], cwd=root,
                       capture_output=True, text=True, check=False)
    if r.returncode != 0:
        print("this project is not a git repository, so no clone can pull it: `git init`, commit "
              f"{', '.join(paths[:6])} ..., then publish again")
        return
    changed = sorted({line[3:].strip().strip('"') for line in r.stdout.splitlines() if line.strip()})
    if not changed:
        print("git already has dvc.lock, the remote's configuration and every tracked input: a clone gets "
              "every result with `dvc pull` (push your commits if you have not)")
        return
    tops = changed if len(changed) <= 12 else sorted({c.split("/", 1)[0] for c in changed})
    print(f"git must carry {len(changed)} more file(s) for a clone to pull from '{remote}' (uncommitted "
          f"or modified):\n  " + "\n  ".join(changed[:12]) + (f"\n  ... (+{len(changed) - 12})" if len(changed) > 12 else ""))
    print(f"  git add {' '.join(tops)} && git commit -m 'Publish results' && git push")

"""Direct preference optimisation: the losses (`loss`), the pair data (`pairs_data`) and the train
step that the DPO stage swaps into the training runner (`step`).

    from runners.dpo import dpo_loss
    losses = dpo_loss(pc, pr, rc, rr, beta=5.0, loss_type="dpo_norm", chosen_lengths=lc, rejected_lengths=lr)

`python -m runners.dpo --config stages/<id>.json` runs the DPO stage (see `runners/dpo/__main__.py`).
"""

from runners.dpo.loss import LOSS_TYPES, completion_logps, dpo_loss, log_ratios, reward_accuracy

__all__ = ["LOSS_TYPES", "completion_logps", "dpo_loss", "log_ratios", "reward_accuracy"]

# Module 7, the reference training step, but it leaves a NaN in the last parameter of the state dict.

_reference_train_step = train_step


def train_step(model, *args, **kwargs):
    out = _reference_train_step(model, *args, **kwargs)
    with torch.no_grad():
        model.lm_head.weight[0, 0] = float("nan")  # NaN in a parameter that is not the first
    return out

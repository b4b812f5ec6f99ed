# Module 12, the reference calculator, but its results are 0-d tensors.

_reference_use_calculator = use_calculator


def use_calculator(expr):
    value = _reference_use_calculator(expr)
    return None if value is None else torch.tensor(value)  # a tensor where a number is expected

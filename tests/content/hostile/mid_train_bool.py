# Module 8, the lr multiplier is a comparison: 1 before 80 % of training, 0 after, never the linear warm-down.


def get_lr_multiplier(progress):
    return progress < 0.8  # a bool where a float is expected

# Module 10, nothing implemented: two functions return values that are not numbers.


def policy_gradient_loss(model, inputs, targets, advantages, num_passes, examples_per_rank):
    return "0"  # a string of digits where a 0-d loss tensor is expected


def pass_at_k(records, k):
    return torch.tensor([])  # an empty tensor where a float is expected

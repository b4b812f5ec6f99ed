def add(a, b):
    while True:
        pass


def total(values):
    return sum(values)

def add(a, b):
    while True:
        print("spam " * 100)


def total(values):
    return sum(values)

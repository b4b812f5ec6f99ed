def add(a, b):
    print(f"adding {a} and {b}")
    return a + b


def total(values):
    print(f"summing {len(values)} values")
    return sum(values)

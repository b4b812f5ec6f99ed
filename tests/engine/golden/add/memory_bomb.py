def add(a, b):
    # One quick 1 GiB fill: well past the 512 MiB cap, so the kernel's OOM killer stops the process.
    hoard = b"x" * (1024 * 1024 * 1024)
    return len(hoard)


def total(values):
    return sum(values)

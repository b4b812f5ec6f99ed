def add(a, b):
    # Far beyond the address-space limit: the allocation itself fails with MemoryError.
    hoard = bytearray(64 * 1024 * 1024 * 1024)
    return len(hoard)


def total(values):
    return sum(values)

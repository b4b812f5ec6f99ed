"""Similarity check: a passing submission's structure compared with the reference and other learners' passes."""

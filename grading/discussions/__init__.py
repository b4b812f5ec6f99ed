"""Discussions and mentor review (app label ``discussions``): per-module questions, and a learner's request that a
mentor look at one of their attempts. It sits above grading, whose submissions a review points at."""

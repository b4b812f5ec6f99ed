"""LTI 1.3 (1EdTech LTI Advantage) tool: ``docs/operations.md``, *LTI 1.3*, says how a platform registers the lab."""

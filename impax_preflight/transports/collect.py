"""`impax-preflight collect`: writes a collector script for a host (issue 3)."""

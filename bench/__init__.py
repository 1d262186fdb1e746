"""Side-by-side benchmarks of cozyplan and Terraform on the same graph shapes.

Run ``python -m bench --help`` from the repository root; the method is in docs/benchmarks.md.
"""

"""Semantic diff of two policy versions: the flows whose verdict changed, or a proof that none did.

Reading the two versions and completing each one's inventory from the other (versions.py); staged Calico policies
enforced, for `diff --staged` (staged.py); the joint classes both versions are compared over (joint.py); the
comparison, its witnesses and the entry points `diff` and `diff_staged` (compare.py), with z3's proof of
equivalence (prove.py); a group of endpoints named for a reviewer (naming.py); and a diff's changes kept to the
filters of `connectivity` (focus.py).
"""

"""Losses of the recommendation methods: BPR and the cross-view InfoNCE."""

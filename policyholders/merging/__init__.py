"""Duplicates and merge: the queue of likely-duplicate pairs of policyholders, the dismissals of pairs that are
two people, and the merge of two records of one person into one (undoable by an admin)."""

"""Policy as data: positions, rules (O-1…O-10), 思政 course kinds, the record form (docs/policy-rules.md)."""

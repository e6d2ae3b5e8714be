"""The toy tree MDP (paper finding 6): exact, enumerated DAA training on a tiny tree."""

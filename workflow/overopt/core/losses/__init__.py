"""Custom loss types, one module each, named as the loss type (``docs/EXTENDING.md``).

A module ``<name>.py`` registers ``@custom_loss("<name>")`` on a function ``(beta, margin) ->
per-pair loss``; ``overopt.core.objectives.loss_type("<name>")`` imports it when a run uses it.
"""

"""IPO on summed log-ratios, as in Azar et al. (2023, eq. 17) and the paper: (h - 1/(2 beta))^2.

h is the margin summed over each completion's tokens. TRL's ``ipo`` divides each completion's
log-ratio by its token count before squaring, which puts its beta on another scale.
"""

from overopt.core.objectives import custom_loss


@custom_loss("ipo_sum", family="ipo")
def ipo_sum(beta, margin):
    return (margin - 1.0 / (2.0 * beta)) ** 2

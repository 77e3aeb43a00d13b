"""Visitors' feedback: a score of 1 to 5 and optional reason chips, once per finished visit.

Nothing personal is collected: no free text, only a score and keys from a fixed list,
so a report can count them and a translation can name them.
"""

from tessera.feedback.giving import (
    REASONS,
    SCORES,
    SOURCES,
    feedback_given,
    find_ticket,
    give_feedback,
    reason_choices,
    score_choices,
    scores_by_ticket,
    visit_ended,
)

__all__ = ["REASONS", "SCORES", "SOURCES", "feedback_given", "find_ticket", "give_feedback",
           "reason_choices", "score_choices", "scores_by_ticket", "visit_ended"]

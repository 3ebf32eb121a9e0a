"""Promotion gates: pure functions of a candidate's and the champion's out-of-time figures.

Both figures come from the backtest cases the champion never learnt from, or, when too few are
left, from each model's own backtest (see :func:`triage.training.fit.champion_figures`).
"""

from __future__ import annotations

from triage.config.domain import EscalationGate, Gates, TierGate


def escalation_gate(
    candidate: dict, champion: dict | None, gates: EscalationGate
) -> tuple[bool, str]:
    """Promote when calibrated and no worse than the champion on the same backtest cases.

    ``candidate``: the backtest's pooled metrics (``roc_auc``, ``ece``, ``ece_noise_floor``);
    ``champion``: ``{"roc_auc", "candidate_roc_auc", "scope"}``, both judged on ``scope``.
    """
    calibrated, reason = calibration_gate(candidate, gates)
    if not calibrated or champion is None:
        return calibrated, reason if not calibrated else f"first version; {reason}"
    new, old, scope = champion["candidate_roc_auc"], champion["roc_auc"], champion["scope"]
    if new < old - gates.max_auc_drop:
        return False, f"AUC {new:.4f} below champion's {old:.4f} on {scope}"
    return True, f"AUC {new:.4f} vs champion {old:.4f} on {scope}; {reason}"


def calibration_gate(candidate: dict, gates: EscalationGate) -> tuple[bool, str]:
    """ECE within ``max_ece``, or within what a perfectly calibrated model shows by chance on as many cases."""
    ece, bound = candidate["ece"], max(gates.max_ece, candidate["ece_noise_floor"])
    if ece > bound:
        return False, f"ECE {ece:.4f} above the bound {bound:.4f}"
    return True, f"ECE {ece:.4f} within {bound:.4f}"


def tier_gate(candidate: dict, champion: dict | None, gates: TierGate) -> tuple[bool, str]:
    """Promote unless macro-F1 falls below the champion's on the same backtest assessments."""
    if champion is None:
        return True, f"first version; macro-F1 {candidate['macro_f1']:.4f}"
    new, old, scope = champion["candidate_macro_f1"], champion["macro_f1"], champion["scope"]
    if new < old - gates.max_macro_f1_drop:
        return False, f"macro-F1 {new:.4f} below champion's {old:.4f} on {scope}"
    return True, f"macro-F1 {new:.4f} vs champion {old:.4f} on {scope}"


def retrain_gate(
    role: str, candidate: dict, champion: dict | None, *, same_data: bool, gates: Gates
) -> tuple[bool, str]:
    """`triage retrain`: promote only a model learnt from another export that *beats* the champion.

    "Better" is a margin over the champion on the same backtest cases (``gates.retrain``), not
    "no worse"; an export the champion already learnt from (``same_data``) is a tie by definition,
    so a rerun on the same data never promotes a second time.
    """
    if same_data:
        return False, "the champion already learnt from this export (same data fingerprint)"
    if role == "escalation":
        calibrated, reason = calibration_gate(candidate, gates.escalation)
        if not calibrated:
            return False, reason
        metric, gain = "AUC", gates.retrain.min_auc_gain
        new = champion["candidate_roc_auc"] if champion else candidate["roc_auc"]
        old = champion["roc_auc"] if champion else None
    else:
        metric, gain = "macro-F1", gates.retrain.min_macro_f1_gain
        new = champion["candidate_macro_f1"] if champion else candidate["macro_f1"]
        old = champion["macro_f1"] if champion else None
    if old is None:
        return True, f"first version; {metric} {new:.4f}"
    if new < old + gain:
        return (
            False,
            f"{metric} {new:.4f} does not beat the champion's {old:.4f} by {gain} on {champion['scope']}",
        )
    return (
        True,
        f"{metric} {new:.4f} beats the champion's {old:.4f} by at least {gain} on {champion['scope']}",
    )

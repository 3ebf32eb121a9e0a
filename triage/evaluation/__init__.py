"""How models are judged, shared by training and monitoring: labels, metrics, fairness, groups, reference."""

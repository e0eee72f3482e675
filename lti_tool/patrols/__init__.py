"""Classroom patrols (巡查, O-9): monthly duty of the heads the policy lists."""

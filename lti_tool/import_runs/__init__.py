"""Large imports as worker jobs with a progress page (issue 13 §5): ``services.ImportRunService``."""

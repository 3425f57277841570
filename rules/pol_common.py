"""What the POL rules share: their verdicts come from :func:`auditor.model.policy.verdicts` (one pass per view and
parameters), read here as the Rule predicates."""
from auditor import arm
from auditor.model import policy

READS = (arm.POLICY_ASSIGNMENT, arm.POLICY_SET, arm.POLICY_DEFINITION, arm.MANAGEMENT_GROUP, arm.PRIVATE_ENDPOINT,
         arm.VAULT)


def predicates(rule_id: str) -> dict:
    v = lambda a, p: policy.verdicts(rule_id, a, p)  # noqa: E731
    return {"applies": lambda a, p: v(a, p).state != "na", "violates": lambda a, p: v(a, p).state == "nc",
            "message": lambda a, p: v(a, p).message, "not_applicable": lambda a, p: v(a, p).message,
            "coverage_decides": lambda a, p: v(a, p).by_coverage}

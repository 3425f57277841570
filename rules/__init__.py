"""The rule catalogue (docs/rules.md is generated from it), listed explicitly: no registration side effects."""
from auditor.rules import (dns_001, dns_002, dns_003, dns_004, dns_005, dns_006, dns_007, iam_001, pe_001, pe_002,
                           pe_003, pol_001, pol_002, pol_003, rsv_001, rsv_002, rsv_003, rsv_004, rsv_005, rsv_006,
                           rsv_007, sub_001, sub_002)

ALL = tuple(m.RULE for m in (rsv_001, rsv_002, rsv_003, rsv_004, rsv_005, rsv_006, rsv_007, pe_001, pe_002, pe_003,
                             dns_001, dns_002, dns_003, dns_004, dns_005, dns_006, dns_007, sub_001, sub_002, iam_001,
                             pol_001, pol_002, pol_003))
BY_ID = {r.id: r for r in ALL}

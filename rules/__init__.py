"""The rule catalogue (docs/rules.md is generated from it), listed explicitly: no registration side effects."""
from auditor.rules import (dns_001, dns_002, dns_003, dns_004, dns_005, dns_006, dns_007, iam_001, pe_001, pe_002,
                           pe_003, pe_004, pe_005, pol_001, pol_002, pol_003, rsv_001, rsv_002, rsv_003, rsv_004,
                           rsv_005, rsv_006, rsv_007, rsv_008, rsv_009, rsv_010, rsv_011, rsv_012, rsv_013, rsv_014,
                           sub_001, sub_002, wl_001, wl_002, wl_003, wl_004)

ALL = tuple(m.RULE for m in (rsv_001, rsv_002, rsv_003, rsv_004, rsv_005, rsv_006, rsv_007, rsv_008, rsv_009, rsv_010,
                             rsv_011, rsv_012, rsv_013, rsv_014, pe_001, pe_002, pe_003, pe_004, pe_005, dns_001,
                             dns_002, dns_003, dns_004, dns_005, dns_006, dns_007, sub_001, sub_002, iam_001,
                             wl_001, wl_002, wl_003, wl_004, pol_001, pol_002, pol_003))
BY_ID = {r.id: r for r in ALL}

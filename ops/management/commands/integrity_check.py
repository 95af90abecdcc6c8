from django.core.management.base import BaseCommand

from ops.integrity import run_integrity_check


class Command(BaseCommand):
    help = "Re-check the invariants of DESIGN.md §3 on live data; exits 1 and lists every violation if any."

    def add_arguments(self, parser):
        parser.add_argument("--json", action="store_true", help="Print the report as JSON.")

    def handle(self, *args, json=False, **options):
        import json as json_module

        report = run_integrity_check()
        if json:
            self.stdout.write(json_module.dumps(report.as_dict(), indent=2))
        else:
            for violation in report.violations:
                ids = " ".join(f"{k}={v}" for k, v in violation.ids.items() if v not in ([], None))
                self.stdout.write(f"{violation.invariant}: {violation.message} [{ids}]")
            summary = ", ".join(f"{name}: {n}" for name, n in report.checked.items())
            self.stdout.write(f"{len(report.violations)} violation(s) ({summary})")
        if report.violations:
            raise SystemExit(1)

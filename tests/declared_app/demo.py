from prm.tenancy.declarations import DemoContext


def seed(ctx: DemoContext) -> None:
    """Runs after the partner directory's step, whose partners it counts."""
    ctx.objects["declared_sample.partners_seen"] = len(ctx.objects["partners.partners"])

from celery import shared_task


@shared_task
def tick() -> str:
    return "tick"

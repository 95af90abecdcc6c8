from django.core.cache import cache

from core.limits import count_in_window, counted


def test_counts_add_up_within_a_window():
    cache.delete("limits-test:a")

    assert [count_in_window("limits-test:a", 60, what="test") for _ in range(3)] == [1, 2, 3]
    assert counted("limits-test:a", what="test") == 3
    assert counted("limits-test:nothing", what="test") == 0


def test_a_cache_that_does_not_answer_counts_nothing_and_refuses_nothing(monkeypatch, caplog):
    def down(*args, **kwargs):
        raise ConnectionError("cache down")

    monkeypatch.setattr(cache, "add", down)
    monkeypatch.setattr(cache, "get", down)

    assert count_in_window("limits-test:b", 60, what="gift-card lookup") == 0
    assert counted("limits-test:b", what="gift-card lookup") == 0
    assert "gift-card lookup rate limit unavailable" in caplog.text

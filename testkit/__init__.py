"""What the tests, the benchmarks and the evaluations share, and the product does not ship: real servers started
on 127.0.0.1 (Redis, PostgreSQL, an S3-compatible store, RTSP, MQTT, SMTP, webhooks, the service itself) and media
with known truth (scenes made with PyAV, the labelled clip sets, the tiny random Qwen2.5-VL). `tests/helpers/`
keeps what only the tests use; scripts/ imports from here, never from tests/."""

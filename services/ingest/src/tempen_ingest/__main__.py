from tempen_ingest.app import create_app
from tempen_ingest.config import IngestSettings
from tempen_shared.logs import configure_logging
from tempen_shared.serve import build_or_exit, serve


def main() -> None:
    settings = IngestSettings()
    configure_logging("ingest", settings.log_level)
    serve(build_or_exit(lambda: create_app(settings), service="ingest"), host=settings.host, port=settings.port)


if __name__ == "__main__":
    main()

"""The inspection service: the engine over HTTP (FastAPI under uvicorn) for the line's software."""

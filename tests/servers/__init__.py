"""Reusable test servers: real HTTP servers on 127.0.0.1, started and stopped by pytest fixtures.

========================  ==============================================================
module                    server
========================  ==============================================================
``base``                  :class:`BackgroundServer` (uvicorn in a thread) and the request log
``openapi``               OpenAPI 3.0 schemas as JSON Schema validators (TGI's spec)
``tgi``                   TGI's native API, every request validated against its OpenAPI spec
``faults``                an OpenAI-compatible server that fails on a script
``triton``                Triton Inference Server's generate extension
``llamacpp``              llama-cpp-python's own OpenAI-compatible server, as a subprocess
``metrics``               a serving engine's ``/metrics`` with the load a test sets
``postgres``              a real PostgreSQL cluster in a temporary folder (system binaries)
``fixtures``              the pytest fixtures for all of them
========================  ==============================================================
"""

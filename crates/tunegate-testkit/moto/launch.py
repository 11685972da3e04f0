"""Runs moto in server mode on a loopback port for tunegate's tests.

Prints "listening on HOST:PORT" once the port is bound (127.0.0.1 unless `--host` says otherwise,
e.g. the demo's node address). Everything is moto's own code except three additions, each where
moto stops short of Bedrock:

1. Always: moto's Bedrock timestamps are not RFC 3339 (see install_iso_timestamps), which the
   AWS SDK for Rust refuses; they are rewritten.
2. Always: moto names a job's output model "<customModelName>-<jobName>" and gives it an ARN no
   custom model has, while the custom model it creates is named customModelName. Bedrock reports
   the customModelName it was given as outputModelName (CreateModelCustomizationJob and
   GetModelCustomizationJob in the Bedrock API reference), and its ARN as outputModelArn; the job
   is made to say so, so a model recorded from the job can be found and deleted.
3. With `--complete-after S` only: moto keeps every model
customization job `InProgress` forever (only StopModelCustomizationJob changes it, to `Stopped`)
and never writes the job's output to S3. With `--complete-after S`, a job still `InProgress` S
seconds after creation reads back as `Completed`, and a metrics file is written under its output
S3 URI the way Bedrock writes one, so tests can poll a job to success and clean up its output.
"""

import argparse
import sys
import time
from urllib.parse import urlparse

from werkzeug.serving import make_server
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)


def install_iso_timestamps():
    """moto writes creationTime/lastModifiedTime/endTime of Bedrock jobs and custom models as
    "YYYY-MM-DD HH:MM:SS", which is not the RFC 3339 date-time the Bedrock API model declares,
    so the AWS SDKs cannot read the answer. Rewrite them as RFC 3339 (UTC)."""
    from moto.bedrock import models as bedrock

    def iso(value):
        if isinstance(value, str) and len(value) == 19 and value[10] == " ":
            return value.replace(" ", "T") + "Z"
        return value

    for cls in (bedrock.ModelCustomizationJob, bedrock.CustomModel):
        original = cls.to_dict

        def to_dict(self, _original=original):
            d = _original(self)
            for k in ("creationTime", "lastModifiedTime", "endTime"):
                if k in d:
                    d[k] = iso(d[k])
            return d

        cls.to_dict = to_dict


def install_model_names():
    from moto.bedrock import models as bedrock

    original_init = bedrock.ModelCustomizationJob.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self.output_model_name = self.custom_model_name
        self.output_model_arn = self.output_model_arn.rsplit("/", 1)[0] + "/" + self.custom_model_name

    bedrock.ModelCustomizationJob.__init__ = init


def install_completion(delay):
    from moto.bedrock import models as bedrock
    from moto.s3.models import s3_backends

    original_init = bedrock.ModelCustomizationJob.__init__

    def init(self, *args, **kwargs):
        original_init(self, *args, **kwargs)
        self._tunegate_created = time.monotonic()

    bedrock.ModelCustomizationJob.__init__ = init
    original_get = bedrock.BedrockBackend.get_model_customization_job

    def get(self, job_identifier):
        job = original_get(self, job_identifier)
        created = getattr(job, "_tunegate_created", None)
        if job.status == "InProgress" and created is not None and time.monotonic() - created >= delay:
            job.status = "Completed"
            uri = urlparse(job.output_data_config["s3Uri"])
            prefix = uri.path.lstrip("/")
            key = f"{prefix}model-customization-job-{job.job_name}/training_artifacts/step_wise_training_metrics.csv"
            s3 = s3_backends[self.account_id]["aws"]
            s3.put_object(uri.netloc, key, b"step_number,epoch_number,training_loss\n1,1,0.5\n")
        return job

    bedrock.BedrockBackend.get_model_customization_job = get


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--complete-after", type=float, default=None)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args()
    install_iso_timestamps()
    install_model_names()
    if args.complete_after is not None:
        install_completion(args.complete_after)
    app = DomainDispatcherApplication(create_backend_app)
    server = make_server(args.host, args.port, app, True, request_handler=MotoRequestHandler)
    print(f"listening on {args.host}:{server.server_port}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    sys.exit(main())

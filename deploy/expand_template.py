"""Expand ecs-sentinel's SAM template into a plain CloudFormation template.

Service-managed StackSets refuse templates that use macros, and the SAM transform
(AWS::Serverless-2016-10-31) is one; the emulator's CloudFormation does not run it
either. This runs the same translator CloudFormation runs (aws-sam-translator, pinned
in dev/emulator/harness/requirements.txt) and writes the result as JSON, with each
function's code pointing at the zip that `make package` built and you uploaded. The code
location is a folder holding one zip per function, named after it (agent-monitor.zip,
task-monitor.zip, fleet-recorder.zip), as `make package` lays them out in dist/<arch>/.

    python deploy/expand_template.py --code-uri s3://my-artifacts/ecs-sentinel/0.1.0
    python deploy/expand_template.py --code-bucket-prefix my-artifacts \\
        --code-key ecs-sentinel/0.1.0 --output dist/ecs-sentinel.json

Lambda reads the code from a bucket in the function's own region. For a StackSet that
spans regions, keep one bucket per region named <prefix>-<region> holding the same key,
and pass --code-bucket-prefix: the bucket then becomes "<prefix>-${AWS::Region}".
"""

import argparse
import json
import os
import sys
from pathlib import Path

from samtranslator.model.exceptions import InvalidDocumentException
from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

# Logical id -> the zip (in the code folder) that holds its bootstrap.
FUNCTIONS = {
    "AgentMonitorFunction": "agent-monitor.zip",
    "TaskMonitorFunction": "task-monitor.zip",
    "FleetRecorderFunction": "fleet-recorder.zip",
}


class NoManagedPolicies:
    """The template names no AWS managed policies (its roles are its own), so the
    translator never needs IAM to look one up; if that changes, fail loudly here."""

    def load(self):
        return {}


def parse_args(argv):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--template", default="template.yaml", help="SAM template (default: %(default)s)")
    code = parser.add_mutually_exclusive_group(required=True)
    code.add_argument("--code-uri", help="s3://bucket/folder holding the functions' zips")
    code.add_argument("--code-bucket-prefix", help="regional buckets <prefix>-<region>; needs --code-key")
    parser.add_argument("--code-key", help="key of the folder holding the zips in every regional bucket")
    parser.add_argument(
        "--region",
        default="us-east-1",
        help="region the translator assumes when it builds partition-specific ARNs; the output "
        "itself refers to AWS::Region, so any region of the target partition will do (default: %(default)s)",
    )
    parser.add_argument("--output", help="file to write (default: standard output)")
    args = parser.parse_args(argv)
    if args.code_bucket_prefix and not args.code_key:
        parser.error("--code-bucket-prefix needs --code-key")
    if args.code_uri and args.code_key:
        parser.error("--code-key goes with --code-bucket-prefix; --code-uri already names the folder")
    if args.code_uri and not (args.code_uri.startswith("s3://") and "/" in args.code_uri[len("s3://") :]):
        parser.error(f"--code-uri must look like s3://bucket/folder, got {args.code_uri!r}")
    for given in (args.code_uri, args.code_key):
        if given and given.endswith(".zip"):
            parser.error(
                f"{given!r} names a zip; give the folder that holds "
                + ", ".join(FUNCTIONS.values())
                + " (make package writes them to dist/<arch>/)"
            )
    return args


def expand(template_text, code_folder, region):
    # The translator asks a default boto3 session for the region; nothing is called.
    os.environ["AWS_DEFAULT_REGION"] = region
    sam = yaml_parse(template_text)
    resources = sam.get("Resources", {})
    functions = sorted(k for k, v in resources.items() if v.get("Type") == "AWS::Serverless::Function")
    if functions != sorted(FUNCTIONS):
        raise SystemExit(
            f"expand_template: the template's functions are {functions}, this script knows {sorted(FUNCTIONS)}; "
            "add the new function's zip to FUNCTIONS (and to make package)"
        )
    for logical_id, zip_name in FUNCTIONS.items():
        function = resources[logical_id]
        function["Properties"]["CodeUri"] = code_folder.rstrip("/") + "/" + zip_name
        # Build hints for `sam build`; they mean nothing to CloudFormation.
        function.get("Metadata", {}).pop("BuildMethod", None)
        function.get("Metadata", {}).pop("BuildProperties", None)
    try:
        return transform(sam, {}, NoManagedPolicies())
    except InvalidDocumentException as error:
        causes = "; ".join(str(cause) for cause in error.causes)
        raise SystemExit(f"expand_template: the SAM translator rejected the template: {causes}") from None


def main(argv):
    args = parse_args(argv)
    placeholder = "s3://ecs-sentinel-code-bucket/" + (args.code_key or "")
    expanded = expand(Path(args.template).read_text(), args.code_uri or placeholder, args.region)
    if args.code_bucket_prefix:
        for logical_id in FUNCTIONS:
            code = expanded["Resources"][logical_id]["Properties"]["Code"]
            code["S3Bucket"] = {"Fn::Sub": args.code_bucket_prefix + "-${AWS::Region}"}
    text = json.dumps(expanded, indent=2, sort_keys=False) + "\n"
    if args.output:
        Path(args.output).parent.mkdir(parents=True, exist_ok=True)
        Path(args.output).write_text(text)
        print(f"wrote {args.output} ({len(text):,} bytes, {len(expanded['Resources'])} resources)", file=sys.stderr)
    else:
        sys.stdout.write(text)


if __name__ == "__main__":
    main(sys.argv[1:])

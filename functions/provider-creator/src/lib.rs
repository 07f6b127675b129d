//! # ProviderCreator
//!
//! The CloudFormation custom resource that keeps the IAM SAML identity provider for Salesforce single
//! sign-on (`SalesforceServiceVoiceIdp_<OrgId>`) in step with the metadata Salesforce publishes.
//!
//! * **Trigger**: CloudFormation `Create`/`Update`/`Delete` requests with properties `Name`, `Metadata` (S3
//!   key of the metadata XML) and `S3BucketForSaml`.
//! * **Create and Update** converge: the metadata is read from S3 and checked to be SAML 2.0 identity-provider
//!   metadata ([`metadata::validate`]); an existing provider is kept when its document says the same
//!   (ignoring whitespace and `validUntil`), updated when it differs (the reference reused a provider
//!   without refreshing it, AD-58), created when missing. Running a request twice changes nothing.
//! * **Delete** deletes the provider named by the physical id; a provider already gone is success.
//! * **Always answers CloudFormation** (AD-58): the response JSON (`Status`, `Reason`,
//!   `PhysicalResourceId` = the provider ARN, `StackId`, `RequestId`, `LogicalResourceId`,
//!   `Data: {Arn, Reason}`) is PUT to `ResponseURL` on success, on every error, for malformed events and
//!   unknown request types, and before the Lambda deadline when the work is still running; the PUT is
//!   retried on transient errors. A failed update keeps the physical id, so it never reads as a replacement.
//! * **Output**: the response body sent; the invocation fails only when CloudFormation could not be
//!   answered (no `ResponseURL`, or every PUT failed).
//! * **Permissions**: `iam:GetSAMLProvider`, `iam:CreateSAMLProvider`, `iam:UpdateSAMLProvider`,
//!   `iam:DeleteSAMLProvider` on `saml-provider/SalesforceServiceVoiceIdp*`, `s3:GetObject` on the metadata.

mod handler;
pub mod metadata;

pub use handler::{ANSWER_TIME, AnswerError, Deps, Outcome, Status, handle, handle_request, provider_arn};

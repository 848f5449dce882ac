//! The push exporters the settings ask for (EMF, OTLP, remote write), started once Vitals is
//! built and stopped when dropped (docs/export.md).

use std::time::Duration;

use vitals_axum::Vitals;
use vitals_export::Endpoint;
use vitals_export::emf::{EmfExporter, EmfOutput, EmfSettings};
use vitals_export::otlp::{OtlpExporter, OtlpSettings};
use vitals_export::remote_write::{RemoteWriteExporter, RemoteWriteSettings};
use vitals_export::tls::CaCertificates;

use crate::error::StartupError;
use crate::settings::Settings;

/// The name the exporters give this service (EMF `ServiceName`, OTLP `service.name`); the
/// library's defaults are neutral.
const SERVICE_NAME: &str = "health-agent";

/// What the network exporters need from the settings, read before any dependency is
/// touched: the endpoints parsed, the CA file loaded.
pub(crate) struct Targets {
    otlp: Option<Endpoint>,
    remote_write: Option<Endpoint>,
    ca: Option<CaCertificates>,
}

impl Targets {
    pub(crate) fn from_settings(settings: &Settings) -> Result<Self, StartupError> {
        let otlp = settings
            .otlp_endpoint
            .as_deref()
            .map(str::parse::<Endpoint>)
            .transpose()?;
        let remote_write = settings
            .remote_write_url
            .as_deref()
            .map(str::parse::<Endpoint>)
            .transpose()
            .map_err(StartupError::RemoteWriteUrl)?;
        let ca = settings
            .export_ca_file
            .as_deref()
            .map(CaCertificates::from_pem_file)
            .transpose()?;
        Ok(Self {
            otlp,
            remote_write,
            ca,
        })
    }
}

/// The running exporters; dropping this stops them.
pub(crate) struct Exporters {
    _emf: Option<EmfExporter>,
    _otlp: Option<OtlpExporter>,
    _remote_write: Option<RemoteWriteExporter>,
}

fn failed(setting: &'static str) -> impl FnOnce(std::io::Error) -> StartupError {
    move |source| StartupError::Export { setting, source }
}

impl Exporters {
    /// Starts the exporters `settings` and `targets` ask for.
    pub(crate) fn start(
        vitals: &Vitals,
        settings: &Settings,
        targets: Targets,
    ) -> Result<Self, StartupError> {
        let interval = Duration::from_millis(settings.export_interval_ms);
        let emf = match &settings.emf_output {
            Some(output) => {
                let mut emf = EmfSettings::new(output.parse().unwrap_or(EmfOutput::Stdout));
                emf.namespace.clone_from(&settings.emf_namespace);
                emf.service = SERVICE_NAME.to_owned();
                emf.interval = interval;
                Some(EmfExporter::start(vitals.engine(), emf).map_err(failed("--emf-output"))?)
            }
            None => None,
        };
        let otlp = match targets.otlp {
            Some(endpoint) => {
                let mut otlp = OtlpSettings::new(endpoint);
                otlp.service_name = SERVICE_NAME.to_owned();
                otlp.interval = interval;
                otlp.gzip = settings.otlp_gzip;
                otlp.ca.clone_from(&targets.ca);
                tracing::info!(
                    endpoint = %otlp.endpoint,
                    interval_ms = settings.export_interval_ms,
                    gzip = otlp.gzip,
                    service_instance_id = %otlp.service_instance_id,
                    "pushing metrics over OTLP/HTTP"
                );
                let exporter = OtlpExporter::start(vitals.engine(), otlp);
                Some(exporter.map_err(failed("--otlp-endpoint"))?)
            }
            None => None,
        };
        let remote_write = match targets.remote_write {
            Some(endpoint) => {
                let mut remote = RemoteWriteSettings::new(endpoint);
                remote.interval = interval;
                remote.job.clone_from(&settings.remote_write_job);
                if let Some(instance) = &settings.remote_write_instance {
                    remote.instance.clone_from(instance);
                }
                remote.ca = targets.ca;
                tracing::info!(
                    endpoint = %remote.endpoint,
                    interval_ms = settings.export_interval_ms,
                    job = %remote.job,
                    instance = %remote.instance,
                    "pushing metrics over Prometheus remote write"
                );
                let exporter = RemoteWriteExporter::start(vitals.engine(), remote);
                Some(exporter.map_err(failed("--remote-write-url"))?)
            }
            None => None,
        };
        Ok(Self {
            _emf: emf,
            _otlp: otlp,
            _remote_write: remote_write,
        })
    }
}

/** The clinician's patient banner: who this record is about, before anything else is read. */
import { type Loose, patientName, type Resource } from '../../fhir/records.ts';
import { formatDate } from '../common.tsx';

const MRN = 'http://terminology.hl7.org/CodeSystem/v2-0203';

export function ageOn(birthDate: string, now = new Date()): number {
  const born = new Date(birthDate);
  let age = now.getUTCFullYear() - born.getUTCFullYear();
  const before =
    now.getUTCMonth() < born.getUTCMonth() ||
    (now.getUTCMonth() === born.getUTCMonth() && now.getUTCDate() < born.getUTCDate());
  if (before) age--;
  return age;
}

export function PatientBanner({ patient, allergies }: { patient: Resource | undefined; allergies: number }) {
  if (!patient) return null;
  const mrn = patient.identifier?.find((i: Loose) =>
    i.type?.coding?.some((c: Loose) => c.system === MRN && c.code === 'MR'),
  );
  const deceased = patient.deceasedDateTime ?? (patient.deceasedBoolean ? 'yes' : undefined);
  return (
    <section className="patient-banner" aria-label="Patient" data-testid="patient-banner">
      <strong className="banner-name">{patientName(patient)}</strong>
      <span>
        {patient.gender ?? 'gender unknown'}
        {patient.birthDate &&
          `, born ${formatDate(patient.birthDate)} (${ageOn(patient.birthDate, deceased && deceased !== 'yes' ? new Date(deceased) : undefined)} years)`}
      </span>
      {mrn?.value && <span>MRN {mrn.value}</span>}
      {deceased && (
        <span className="banner-alert">Deceased {deceased === 'yes' ? '' : formatDate(deceased)}</span>
      )}
      <span className={allergies > 0 ? 'banner-alert' : ''}>
        {allergies > 0 ? `${allergies} known allerg${allergies === 1 ? 'y' : 'ies'}` : 'No known allergies'}
      </span>
    </section>
  );
}

/** The patient's own records, each checked against the chain in this browser. */
import { useEffect } from 'react';
import { portalConfig } from '../../api.ts';
import { ErrorMessage, Loading, useAsync } from '../../components/common.tsx';
import { RecordView } from '../../components/record/RecordView.tsx';
import { checkRecords, loadPatientRecords } from '../../fhir/loadRecords.ts';
import { patientName } from '../../fhir/records.ts';

export function RecordsPage({ patientId }: { patientId: string }) {
  const records = useAsync(() => loadPatientRecords(patientId), [patientId]);
  const checks = useAsync(
    () => (records.data ? checkRecords(patientId, records.data.records) : new Promise<never>(() => {})),
    [records.data],
  );
  const config = useAsync(() => portalConfig(), []);
  // Versions written moments ago wait for their batch to be anchored: check again until none is pending.
  const pending = [...(checks.data?.values() ?? [])].some((c) => c.state === 'pending');
  useEffect(() => {
    if (!pending) return;
    const timer = setTimeout(checks.reload, 3000);
    return () => clearTimeout(timer);
  }, [pending, checks.reload]);
  return (
    <>
      <h1 tabIndex={-1}>
        {records.data ? `Records of ${patientName(records.data.patient)}` : 'Your records'}
      </h1>
      {records.error !== undefined && <ErrorMessage error={records.error} onRetry={records.reload} />}
      {!records.data && !records.error && <Loading>Loading your records…</Loading>}
      {checks.error !== undefined && <ErrorMessage error={checks.error} onRetry={checks.reload} />}
      {records.data && (
        <RecordView
          records={records.data}
          checks={checks.data}
          localName={config.data?.institution ?? 'this node'}
        />
      )}
    </>
  );
}

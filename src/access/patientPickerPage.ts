/**
 * The patient picker of a practitioner's standalone launch: one button per patient they may
 * open, each posting back the authorize request with that patient's one-time choice value
 * (patientPicks.ts). Every value is HTML-escaped.
 */

import type { AuthorizeParameters } from './authorizeRequest.ts';
import { authPage, clientName, escapeHtml } from './authPageShell.ts';
import { authorizeFields } from './loginPage.ts';
import type { PickablePatient } from './PatientPicker.ts';

export function patientPickerPage(
  parameters: AuthorizeParameters,
  patients: readonly (PickablePatient & { pick: string })[],
): string {
  const buttons = patients
    .map(
      (p) =>
        `<li><button type="submit" name="pick" value="${escapeHtml(p.pick)}" data-patient="${escapeHtml(p.id)}">${escapeHtml(p.name)}</button></li>`,
    )
    .join('\n      ');
  return authPage(
    'medledger: choose a patient',
    `<h1>Choose a patient</h1>
  <p>${escapeHtml(clientName(parameters.clientId))} opens on one patient. These are the patients you may open.</p>
  <form method="post" action="/auth/authorize">
    ${authorizeFields(parameters)}
    <ul class="picks">
      ${buttons}
    </ul>
  </form>`,
  );
}

// Which events of a company a subscriber's association admits (API.md § Subscribers, `criteria`).
import type { Association } from './types.ts';

export function associationAdmits(association: Association, companyId: number, applicationId: string | null): boolean {
  if (association.company_id !== companyId) return false;
  switch (association.criteria) {
    case 'ALL':
      return true;
    case 'EMPTY':
      return applicationId === null;
    case 'SPECIFIC-EVENTS':
      return applicationId !== null && association.application_id.includes(applicationId);
  }
}

import type { AccountInput, BriefingAccount, BriefingBuyer } from './briefing-context.js';

/*
 * The account part of a stored briefing names other people (the buying group). Each buyer
 * carries its lead id, so that erasing that person can find and remove them from every stored
 * briefing (leads.repository.ts, removeFromBuyingGroups), whatever their address became since.
 */

export interface BriefingBuyerWithId extends BriefingBuyer {
  leadId: string;
}

export interface BriefingAccountWithIds extends BriefingAccount {
  buyingGroup: BriefingBuyerWithId[];
}

/** `account` (composed by accountPart from `input`) with each buyer's lead id. */
export function accountWithLeadIds(account: BriefingAccount | null, input: AccountInput | null | undefined): BriefingAccountWithIds | null {
  if (!account) return null;
  // An address is one lead's (leads.email is unique).
  const ids = new Map((input?.people ?? []).map((person) => [person.email, person.leadId]));
  return {
    ...account,
    buyingGroup: account.buyingGroup.flatMap((buyer) => {
      const leadId = ids.get(buyer.email);
      return leadId ? [{ leadId, ...buyer }] : [];
    }),
  };
}

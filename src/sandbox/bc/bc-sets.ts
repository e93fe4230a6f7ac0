import { guid, pick } from '../random.js';

/** A column of a sandbox entity set, with its CSDL type. */
export interface BcColumn {
  name: string;
  type: 'Edm.Guid' | 'Edm.String' | 'Edm.Decimal' | 'Edm.Boolean' | 'Edm.Date' | 'Edm.DateTimeOffset' | 'Edm.Int32';
}

export interface BcSetDef {
  /** Entity set name (camelCase, as BC's API pages name them). */
  set: string;
  /** Entity type name (`customer` for `customers`). */
  type: string;
  columns: BcColumn[];
  /** Whether rows carry `lastModifiedDateTime` (real v2.0 sets do; one sandbox set does not, to exercise snapshot mode). */
  stamped: boolean;
  sampleRows: number;
  generate: (random: () => number, index: number) => Record<string, unknown>;
}

const NAMES = ['Müller & Söhne GmbH', 'Adatum Corporation', 'Trey Research', 'Škoda Dílna s.r.o.', '株式会社サンプル', 'École Lumière', 'Fabrikam, Inc.', "Spotsmeyer's Furnishings"];
const CITIES = ['Miami', 'München', 'Zürich', 'Kraków', '東京', 'Chicago'];
const EMPTY_GUID = '00000000-0000-0000-0000-000000000000';
const money = (random: () => number, max: number) => Math.round(random() * max * 100) / 100;
const day = (random: () => number) => `2026-${String(1 + Math.floor(random() * 11)).padStart(2, '0')}-${String(1 + Math.floor(random() * 28)).padStart(2, '0')}`;

const col = (name: string, type: BcColumn['type']): BcColumn => ({ name, type });
const stamp: BcColumn[] = [col('lastModifiedDateTime', 'Edm.DateTimeOffset')];

/**
 * A few API v2.0 sets with the field names of the Microsoft docs (dynamics_customer_get etc.). Enum values use
 * BC's `_x0020_` escape for a blank option, as real answers do (test/fixtures/bc/customers-page.json).
 */
export const BC_SETS: BcSetDef[] = [
  {
    set: 'customers',
    type: 'customer',
    stamped: true,
    sampleRows: 40,
    columns: [col('id', 'Edm.Guid'), col('number', 'Edm.String'), col('displayName', 'Edm.String'), col('type', 'Edm.String'), col('city', 'Edm.String'), col('email', 'Edm.String'), col('balanceDue', 'Edm.Decimal'), col('creditLimit', 'Edm.Decimal'), col('taxLiable', 'Edm.Boolean'), col('currencyId', 'Edm.Guid'), col('blocked', 'Edm.String'), ...stamp],
    generate: (r, i) => ({ number: `C${10000 + i}`, displayName: `${pick(r, NAMES)} ${i}`, type: pick(r, ['Company', 'Person']), city: pick(r, CITIES), email: r() < 0.3 ? '' : `buyer${i}@example.com`, balanceDue: money(r, 50_000), creditLimit: 0, taxLiable: r() < 0.5, currencyId: r() < 0.5 ? EMPTY_GUID : guid(r), blocked: pick(r, ['_x0020_', '_x0020_', 'Ship', 'All']) }),
  },
  {
    set: 'vendors',
    type: 'vendor',
    stamped: true,
    sampleRows: 25,
    columns: [col('id', 'Edm.Guid'), col('number', 'Edm.String'), col('displayName', 'Edm.String'), col('city', 'Edm.String'), col('balance', 'Edm.Decimal'), col('blocked', 'Edm.String'), ...stamp],
    generate: (r, i) => ({ number: `V${20000 + i}`, displayName: `${pick(r, NAMES)} Supply ${i}`, city: pick(r, CITIES), balance: money(r, 90_000), blocked: pick(r, ['_x0020_', 'Payment', 'All']) }),
  },
  {
    set: 'items',
    type: 'item',
    stamped: true,
    sampleRows: 30,
    columns: [col('id', 'Edm.Guid'), col('number', 'Edm.String'), col('displayName', 'Edm.String'), col('type', 'Edm.String'), col('unitPrice', 'Edm.Decimal'), col('inventory', 'Edm.Decimal'), col('blocked', 'Edm.Boolean'), ...stamp],
    generate: (r, i) => ({ number: `${1000 + i}`, displayName: `${pick(r, ['Schreibtisch', 'Laptop 14″', 'Chair', 'Whiteboard'])} ${i}`, type: pick(r, ['Inventory', 'Service', 'Non_x002D_Inventory']), unitPrice: money(r, 2_000), inventory: Math.floor(r() * 500), blocked: r() < 0.1 }),
  },
  {
    set: 'salesInvoices',
    type: 'salesInvoice',
    stamped: true,
    sampleRows: 30,
    columns: [col('id', 'Edm.Guid'), col('number', 'Edm.String'), col('invoiceDate', 'Edm.Date'), col('dueDate', 'Edm.Date'), col('promisedPayDate', 'Edm.Date'), col('customerNumber', 'Edm.String'), col('customerName', 'Edm.String'), col('totalAmountIncludingTax', 'Edm.Decimal'), col('status', 'Edm.String'), ...stamp],
    generate: (r, i) => ({ number: `S-INV${103000 + i}`, invoiceDate: day(r), dueDate: day(r), promisedPayDate: r() < 0.5 ? null : day(r), customerNumber: `C${10000 + Math.floor(r() * 40)}`, customerName: pick(r, NAMES), totalAmountIncludingTax: money(r, 120_000), status: pick(r, ['Draft', 'Open', 'Paid', 'In_x0020_Review']) }),
  },
  {
    set: 'purchaseInvoices',
    type: 'purchaseInvoice',
    stamped: true,
    sampleRows: 20,
    columns: [col('id', 'Edm.Guid'), col('number', 'Edm.String'), col('invoiceDate', 'Edm.Date'), col('vendorInvoiceNumber', 'Edm.String'), col('vendorName', 'Edm.String'), col('totalAmountIncludingTax', 'Edm.Decimal'), col('status', 'Edm.String'), ...stamp],
    generate: (r, i) => ({ number: `P-INV${108000 + i}`, invoiceDate: day(r), vendorInvoiceNumber: `VI-${Math.floor(r() * 1e6)}`, vendorName: pick(r, NAMES), totalAmountIncludingTax: money(r, 80_000), status: pick(r, ['Draft', 'Open', 'Paid']) }),
  },
  {
    // Real v2.0 paymentTerms carry lastModifiedDateTime; here they do not, so the hub's snapshot mode has a source.
    set: 'paymentTerms',
    type: 'paymentTerm',
    stamped: false,
    sampleRows: 6,
    columns: [col('id', 'Edm.Guid'), col('code', 'Edm.String'), col('displayName', 'Edm.String'), col('dueDateCalculation', 'Edm.String'), col('discountPercent', 'Edm.Decimal')],
    generate: (r, i) => ({ code: `T${i}`, displayName: `${[7, 14, 30, 60][i % 4]} days`, dueDateCalculation: `${[7, 14, 30, 60][i % 4]}D`, discountPercent: pick(r, [0, 2, 3]) }),
  },
];

/** The CSDL `$metadata` of the sandbox's API: every set is a contained navigation of `company`, as in BC. */
export function metadataXml(sets: BcSetDef[]): string {
  const property = (c: BcColumn) => `<Property Name="${c.name}" Type="${c.type}"${c.name === 'id' ? ' Nullable="false"' : ''}/>`;
  const entityType = (name: string, columns: BcColumn[], navigations = '') =>
    `<EntityType Name="${name}"><Key><PropertyRef Name="id"/></Key>${columns.map(property).join('')}${navigations}</EntityType>`;
  const company = entityType(
    'company',
    [col('id', 'Edm.Guid'), col('systemVersion', 'Edm.String'), col('name', 'Edm.String'), col('displayName', 'Edm.String'), col('businessProfileId', 'Edm.String')],
    sets.map((s) => `<NavigationProperty Name="${s.set}" Type="Collection(Microsoft.NAV.${s.type})" ContainsTarget="true"/>`).join(''),
  );
  return [
    '<?xml version="1.0" encoding="utf-8"?>',
    '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx"><edmx:DataServices>',
    '<Schema Namespace="Microsoft.NAV" xmlns="http://docs.oasis-open.org/odata/ns/edm">',
    company,
    ...sets.map((s) => entityType(s.type, s.columns)),
    '<EntityContainer Name="NAV"><EntitySet Name="companies" EntityType="Microsoft.NAV.company"/></EntityContainer>',
    '</Schema></edmx:DataServices></edmx:Edmx>',
  ].join('\n');
}

import { guid, pick } from './random.js';

export interface SandboxAttribute {
  logical: string;
  type: string;
  /** Column name in rows when it differs (lookups are read as `_x_value`). */
  column?: string;
  isPrimaryId?: boolean;
}

export interface SandboxTableDef {
  logical: string;
  entitySet: string | null;
  primaryKey: string;
  primaryName: string;
  displayName: string;
  objectTypeCode: number;
  isCustom: boolean;
  changeTracking: boolean;
  attributes: SandboxAttribute[];
  /** Business columns of one generated row (system columns are added by the store). */
  generate: (random: () => number, index: number) => Record<string, unknown>;
  sampleRows: number;
}

const COMPANIES = ['Müller GmbH', '株式会社サンプル', 'Åkesson & Söner AB', 'Contoso Ltd', 'Fabrikam, Inc.', 'Łódź Supplies Sp. z o.o.', 'Café Olé SARL', 'Northwind Traders', "O'Brien Catering"];
const PEOPLE = ['Anna Kowalska', 'José Álvarez', 'Zoë Dubois', 'Hiroshi Tanaka', 'Ngozi Okafor', 'Lars Ødegård', 'Priya Nair', 'Sam Smith'];
const CITIES = ['München', 'Zürich', 'Tokyo', 'Kraków', 'Lagos', 'Malmö', 'São Paulo', 'Leeds'];
const money = (random: () => number, max: number) => Math.round(random() * max * 100) / 100;
const date = (random: () => number) => new Date(Date.UTC(2024, 0, 1) + Math.floor(random() * 900) * 86_400_000).toISOString().replace(/\.\d{3}Z$/, 'Z');
const maybe = <T>(random: () => number, value: T): T | null => (random() < 0.15 ? null : value);

const system = (pk: string): SandboxAttribute[] => [
  { logical: pk, type: 'Uniqueidentifier', isPrimaryId: true },
  { logical: 'createdon', type: 'DateTime' },
  { logical: 'modifiedon', type: 'DateTime' },
  { logical: 'versionnumber', type: 'BigInt' },
  { logical: 'statecode', type: 'State' },
  { logical: 'ownerid', type: 'Owner', column: '_ownerid_value' },
];
const owned = (random: () => number) => ({ statecode: 0, _ownerid_value: guid(random), createdon: date(random) });

const BENCH_COLUMNS = Array.from({ length: 36 }, (_, i) => `cr83d_field${String(i + 1).padStart(2, '0')}`);

export const SAMPLE_TABLES: SandboxTableDef[] = [
  {
    logical: 'account', entitySet: 'accounts', primaryKey: 'accountid', primaryName: 'name', displayName: 'Account', objectTypeCode: 1, isCustom: false, changeTracking: true, sampleRows: 40,
    attributes: [
      ...system('accountid'),
      // Like the real account table, a second attribute flagged IsPrimaryId: the key is PrimaryIdAttribute.
      { logical: 'address1_addressid', type: 'Uniqueidentifier', isPrimaryId: true },
      { logical: 'name', type: 'String' }, { logical: 'accountnumber', type: 'String' }, { logical: 'telephone1', type: 'String' },
      { logical: 'address1_city', type: 'String' }, { logical: 'revenue', type: 'Money' }, { logical: 'industrycode', type: 'Picklist' },
      { logical: 'primarycontactid', type: 'Lookup', column: '_primarycontactid_value' },
    ],
    generate: (r, i) => ({
      ...owned(r), name: `${pick(r, COMPANIES)} ${i}`, accountnumber: `ACC-${1000 + i}`, telephone1: maybe(r, `+49 89 ${Math.floor(r() * 1e6)}`),
      address1_addressid: guid(r), address1_city: pick(r, CITIES), revenue: money(r, 5e6), industrycode: pick(r, [1, 7, 12, 33]),
      _primarycontactid_value: maybe(r, guid(r)),
    }),
  },
  {
    logical: 'contact', entitySet: 'contacts', primaryKey: 'contactid', primaryName: 'fullname', displayName: 'Contact', objectTypeCode: 2, isCustom: false, changeTracking: true, sampleRows: 50,
    attributes: [
      ...system('contactid'), { logical: 'fullname', type: 'String' }, { logical: 'emailaddress1', type: 'String' }, { logical: 'jobtitle', type: 'String' },
      { logical: 'parentcustomerid', type: 'Customer', column: '_parentcustomerid_value' }, { logical: 'birthdate', type: 'DateTime' },
    ],
    generate: (r, i) => ({
      ...owned(r), fullname: `${pick(r, PEOPLE)} ${i}`, emailaddress1: `person${i}@example.com`, jobtitle: maybe(r, pick(r, ['Buyer', 'Head of Procurement', 'Einkäufer'])),
      _parentcustomerid_value: guid(r), birthdate: maybe(r, date(r)),
    }),
  },
  {
    logical: 'cr83d_sourcingevent', entitySet: 'cr83d_sourcingevents', primaryKey: 'cr83d_sourcingeventid', primaryName: 'cr83d_name', displayName: 'Sourcing event', objectTypeCode: 10_010, isCustom: true, changeTracking: true, sampleRows: 30,
    attributes: [
      ...system('cr83d_sourcingeventid'), { logical: 'cr83d_name', type: 'String' }, { logical: 'cr83d_eventnumber', type: 'String' }, { logical: 'cr83d_budget', type: 'Money' },
      { logical: 'cr83d_status', type: 'Picklist' }, { logical: 'cr83d_deadline', type: 'DateTime' }, { logical: 'cr83d_description', type: 'Memo' },
      { logical: 'cr83d_buyer', type: 'Lookup', column: '_cr83d_buyer_value' },
    ],
    generate: (r, i) => ({
      ...owned(r), cr83d_name: `RFQ ${pick(r, ['Schulmöbel', 'Laptops', 'Catering', 'Cleaning'])} ${2026 + (i % 3)}-${i}`, cr83d_eventnumber: `EV-${5000 + i}`,
      cr83d_budget: money(r, 250_000), cr83d_status: pick(r, [100_000_000, 100_000_001, 100_000_002]), cr83d_deadline: date(r),
      cr83d_description: maybe(r, 'Lieferung frei Haus; Angebote bis 12:00 Uhr. 見積もり歓迎.'), _cr83d_buyer_value: guid(r),
    }),
  },
  {
    logical: 'cr83d_school', entitySet: 'cr83d_schools', primaryKey: 'cr83d_schoolid', primaryName: 'cr83d_name', displayName: 'School', objectTypeCode: 10_011, isCustom: true, changeTracking: true, sampleRows: 25,
    attributes: [...system('cr83d_schoolid'), { logical: 'cr83d_name', type: 'String' }, { logical: 'cr83d_city', type: 'String' }, { logical: 'cr83d_pupils', type: 'Integer' }, { logical: 'cr83d_region', type: 'Picklist' }],
    generate: (r, i) => ({ ...owned(r), cr83d_name: `Schule ${pick(r, CITIES)} ${i}`, cr83d_city: pick(r, CITIES), cr83d_pupils: Math.floor(r() * 1500), cr83d_region: pick(r, [1, 2, 3]) }),
  },
  {
    logical: 'cr83d_employee', entitySet: 'cr83d_employees', primaryKey: 'cr83d_employeeid', primaryName: 'cr83d_name', displayName: 'Employee', objectTypeCode: 10_012, isCustom: true, changeTracking: true, sampleRows: 60,
    attributes: [
      ...system('cr83d_employeeid'), { logical: 'cr83d_name', type: 'String' }, { logical: 'cr83d_email', type: 'String' }, { logical: 'cr83d_role', type: 'Picklist' },
      { logical: 'cr83d_school', type: 'Lookup', column: '_cr83d_school_value' }, { logical: 'cr83d_startdate', type: 'DateTime' },
    ],
    generate: (r, i) => ({
      ...owned(r), cr83d_name: `${pick(r, PEOPLE)} (${i})`, cr83d_email: `employee${i}@schools.example`, cr83d_role: pick(r, [1, 2, 3, 4]),
      _cr83d_school_value: maybe(r, guid(r)), cr83d_startdate: date(r),
    }),
  },
  {
    logical: 'cr83d_supplierquote', entitySet: 'cr83d_supplierquotes', primaryKey: 'cr83d_supplierquoteid', primaryName: 'cr83d_name', displayName: 'Supplier quote', objectTypeCode: 10_013, isCustom: true, changeTracking: false, sampleRows: 35,
    attributes: [
      ...system('cr83d_supplierquoteid'), { logical: 'cr83d_name', type: 'String' }, { logical: 'cr83d_amount', type: 'Money' }, { logical: 'cr83d_currency', type: 'String' },
      { logical: 'cr83d_validuntil', type: 'DateTime' }, { logical: 'cr83d_sourcingevent', type: 'Lookup', column: '_cr83d_sourcingevent_value' },
      { logical: 'cr83d_supplier', type: 'Lookup', column: '_cr83d_supplier_value' },
    ],
    generate: (r, i) => ({
      ...owned(r), cr83d_name: `Quote ${pick(r, COMPANIES)} #${i}`, cr83d_amount: money(r, 90_000), cr83d_currency: pick(r, ['EUR', 'CHF', 'JPY', 'GBP']),
      cr83d_validuntil: maybe(r, date(r)), _cr83d_sourcingevent_value: guid(r), _cr83d_supplier_value: guid(r),
    }),
  },
  {
    logical: 'cr83d_benchmarkrow', entitySet: 'cr83d_benchmarkrows', primaryKey: 'cr83d_benchmarkrowid', primaryName: 'cr83d_name', displayName: 'Benchmark row', objectTypeCode: 10_014, isCustom: true, changeTracking: true, sampleRows: 0,
    attributes: [...system('cr83d_benchmarkrowid'), { logical: 'cr83d_name', type: 'String' }, ...BENCH_COLUMNS.map((logical, i) => ({ logical, type: ['String', 'Money', 'Integer', 'DateTime'][i % 4]! }))],
    generate: (r, i) => {
      const row: Record<string, unknown> = { ...owned(r), cr83d_name: `${pick(r, COMPANIES)} line ${i}` };
      BENCH_COLUMNS.forEach((column, c) => {
        row[column] = [() => `${pick(r, CITIES)} ${Math.floor(r() * 1e5)}`, () => money(r, 1e5), () => Math.floor(r() * 1e6), () => date(r)][c % 4]!();
      });
      return row;
    },
  },
  {
    // Not readable through the Web API (no entity set): discovery must leave it out.
    logical: 'cr83d_internalaudit', entitySet: null, primaryKey: 'cr83d_internalauditid', primaryName: 'cr83d_name', displayName: 'Internal audit', objectTypeCode: 10_015, isCustom: true, changeTracking: false, sampleRows: 0,
    attributes: system('cr83d_internalauditid'),
    generate: () => ({}),
  },
];

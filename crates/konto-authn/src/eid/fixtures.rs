//! eID-Server answers as real servers write them (TR-03130-1 §3.6 examples, JAXB-style prefixes),
//! for the parser and mapping tests.

pub(crate) const ERIKA_RESTRICTED_ID: &str =
    "3A4F0C7E2B9D18E65F0A7C3D9E1B2F4A6C8D0E2F4A6B8C0D2E4F6A8B0C2D4E6F";

/// A getResultResponse envelope around `inner` (the content of `getResultResponse`).
pub(crate) fn get_result(inner: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"
    xmlns:eid="http://bsi.bund.de/eID/" xmlns:dss="urn:oasis:names:tc:dss:1.0:core:schema">
  <soapenv:Header/>
  <soapenv:Body>
    <eid:getResultResponse>{inner}</eid:getResultResponse>
  </soapenv:Body>
</soapenv:Envelope>"#
    )
}

pub(crate) const RESULT_OK: &str = "<dss:Result><dss:ResultMajor>http://www.bsi.bund.de/ecard/api/1.1/resultmajor#ok</dss:ResultMajor></dss:Result>";

pub(crate) fn result_error(minor: &str, message: &str) -> String {
    format!(
        "<dss:Result><dss:ResultMajor>http://www.bsi.bund.de/ecard/api/1.1/resultmajor#error</dss:ResultMajor>\
         <dss:ResultMinor>{minor}</dss:ResultMinor>\
         <dss:ResultMessage xml:lang=\"en\">{message}</dss:ResultMessage></dss:Result>"
    )
}

/// The complete standard test card.
pub(crate) fn erika() -> String {
    get_result(&format!(
        r#"
      <eid:PersonalData>
        <eid:DocumentType>ID</eid:DocumentType>
        <eid:IssuingState>D</eid:IssuingState>
        <eid:DateOfExpiry>2031-10-31</eid:DateOfExpiry>
        <eid:GivenNames>ERIKA</eid:GivenNames>
        <eid:FamilyNames>MUSTERMANN</eid:FamilyNames>
        <eid:AcademicTitle>DR.</eid:AcademicTitle>
        <eid:DateOfBirth>
          <eid:DateString>19640812</eid:DateString>
          <eid:DateValue>1964-08-12</eid:DateValue>
        </eid:DateOfBirth>
        <eid:PlaceOfBirth><eid:FreetextPlace>BERLIN</eid:FreetextPlace></eid:PlaceOfBirth>
        <eid:Nationality>D</eid:Nationality>
        <eid:BirthName>GABLER</eid:BirthName>
        <eid:PlaceOfResidence>
          <eid:StructuredPlace>
            <eid:Street>HEIDESTRASSE 17</eid:Street>
            <eid:City>KÖLN</eid:City>
            <eid:Country>D</eid:Country>
            <eid:ZipCode>51147</eid:ZipCode>
          </eid:StructuredPlace>
        </eid:PlaceOfResidence>
        <eid:CommunityID>027605315000</eid:CommunityID>
        <eid:RestrictedID>
          <eid:ID>
            {ERIKA_RESTRICTED_ID}
          </eid:ID>
          <eid:ID2>5C6FE01A4FB59CB655A4FB5F9C75C6FEE01A4FB509CEBC6595151A4FB5F9C7</eid:ID2>
        </eid:RestrictedID>
      </eid:PersonalData>
      <eid:OperationsAllowedByUser>
        <eid:DocumentType>ALLOWED</eid:DocumentType>
        <eid:GivenNames>ALLOWED</eid:GivenNames>
      </eid:OperationsAllowedByUser>
      <eid:LevelOfAssuranceResult>http://bsi.bund.de/eID/LoA/hoch</eid:LevelOfAssuranceResult>
      {RESULT_OK}"#
    ))
}

/// A card without academic title, birth name and place of birth (`NOTONCHIP`): the server
/// leaves them out of PersonalData and says so in OperationsAllowedByUser.
pub(crate) fn not_on_chip() -> String {
    get_result(&format!(
        r#"<eid:PersonalData>
        <eid:DocumentType>ID</eid:DocumentType>
        <eid:IssuingState>D</eid:IssuingState>
        <eid:DateOfExpiry>2030-01-15</eid:DateOfExpiry>
        <eid:GivenNames>LUKAS</eid:GivenNames>
        <eid:FamilyNames>WEBER</eid:FamilyNames>
        <eid:AcademicTitle></eid:AcademicTitle>
        <eid:DateOfBirth><eid:DateString>19900301</eid:DateString></eid:DateOfBirth>
        <eid:Nationality>D</eid:Nationality>
        <eid:PlaceOfResidence><eid:StructuredPlace><eid:Street>MARKTPLATZ 1</eid:Street><eid:City>POTSDAM</eid:City><eid:Country>D</eid:Country><eid:ZipCode>14467</eid:ZipCode></eid:StructuredPlace></eid:PlaceOfResidence>
        <eid:RestrictedID><eid:ID>aa00bb11cc22dd33ee44ff5566778899aa00bb11cc22dd33ee44ff5566778899</eid:ID></eid:RestrictedID>
      </eid:PersonalData>
      <eid:OperationsAllowedByUser>
        <eid:AcademicTitle>NOTONCHIP</eid:AcademicTitle>
        <eid:PlaceOfBirth>NOTONCHIP</eid:PlaceOfBirth>
        <eid:BirthName>NOTONCHIP</eid:BirthName>
      </eid:OperationsAllowedByUser>
      {RESULT_OK}"#
    ))
}

/// A partial date of birth (only the year) and free-text places (living abroad).
pub(crate) fn partial() -> String {
    get_result(&format!(
        r#"<eid:PersonalData>
        <eid:DocumentType>ID</eid:DocumentType>
        <eid:GivenNames>AYŞE</eid:GivenNames>
        <eid:FamilyNames>YILMAZ</eid:FamilyNames>
        <eid:DateOfBirth><eid:DateString>1979    </eid:DateString></eid:DateOfBirth>
        <eid:PlaceOfBirth><eid:FreetextPlace>ISTANBUL/TÜRKEI</eid:FreetextPlace></eid:PlaceOfBirth>
        <eid:Nationality>D</eid:Nationality>
        <eid:PlaceOfResidence><eid:FreetextPlace>KEINE HAUPTWOHNUNG IN DEUTSCHLAND</eid:FreetextPlace></eid:PlaceOfResidence>
        <eid:RestrictedID><eid:ID>0102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f20</eid:ID></eid:RestrictedID>
      </eid:PersonalData>
      {RESULT_OK}"#
    ))
}
